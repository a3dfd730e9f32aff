/**
 * Where Istio's three charts come from: an https Helm repository, an OCI registry, or — for
 * air-gapped installs — a local directory holding `base`, `istiod` and `gateway`, each as a chart
 * directory (`<chart>-<version>/` or `<chart>/`) or an archive as `helm pull` writes it
 * (`<chart>-<version>.tgz`, or `<chart>.tgz`). The versioned names come first, so one directory can
 * hold the charts of several revisions.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import type { IstioChart } from "./chart-keys";

export const ISTIO_CHARTS: readonly IstioChart[] = ["base", "istiod", "gateway"];

/** True unless the repository is a URL other than `file://`: a path (absolute, relative, `~/`) or a file URL. */
export function isLocalChartRepository(repository: string): boolean {
    return repository.startsWith("file://") || !/^[a-z][a-z0-9+.-]*:\/\//i.test(repository);
}

/** The absolute directory of a local repository; relative paths are relative to `base` (the project directory). */
export function localChartDirectory(repository: string, base = process.cwd()): string {
    if (repository.startsWith("file://")) return fileURLToPath(repository);
    const expanded = repository.startsWith("~/") ? path.join(os.homedir(), repository.slice(2)) : repository;
    return path.resolve(base, expanded);
}

/** The chart's path in a local directory, or undefined when it holds no such chart. */
export function findLocalChart(directory: string, chart: IstioChart, version: string): string | undefined {
    const candidates = [`${chart}-${version}`, `${chart}-${version}.tgz`, chart, `${chart}.tgz`].map((c) => path.join(directory, c));
    return candidates.find((c) => (c.endsWith(".tgz") ? fs.existsSync(c) : fs.existsSync(path.join(c, "Chart.yaml"))));
}

/** What is wrong with a local chart directory (it does not exist, or charts are missing), or undefined. */
export function localChartProblem(repository: string, version: string): string | undefined {
    const directory = localChartDirectory(repository);
    if (!fs.existsSync(directory) || !fs.statSync(directory).isDirectory()) return `${directory} is not a directory`;
    const missing = ISTIO_CHARTS.filter((chart) => findLocalChart(directory, chart, version) === undefined);
    return missing.length > 0 ? `${directory} has no ${missing.join(", ")} chart` : undefined;
}
