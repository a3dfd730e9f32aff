/**
 * The mesh CA of the simulated stack, made with openssl the way Istio's `tools/certs` Makefile makes
 * it: one root, and per cluster an intermediate CA with `ca-cert.pem`, `ca-key.pem`, `root-cert.pem`
 * and `cert-chain.pem` — the files `ca.source: files` reads. (The program's own generated CA needs the
 * tls provider, whose Go module the proxy does not serve; see the README.)
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const openssl = (cwd: string, ...args: string[]) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });

const CA_EXTENSIONS = [
    "basicConstraints=critical,CA:true",
    "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,keyCertSign",
];

/** Writes `<dir>/<cluster>/{ca-cert,ca-key,root-cert,cert-chain}.pem` under one root (kept if present). */
export function makeMeshCa(dir: string, clusters: readonly string[]): void {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(path.join(dir, "root-cert.pem"))) {
        openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "3650", "-subj", "/O=Istio/CN=Root CA",
            "-keyout", "root-key.pem", "-out", "root-cert.pem", ...CA_EXTENSIONS.flatMap((e) => ["-addext", e]));
    }
    for (const cluster of clusters) {
        const c = path.join(dir, cluster);
        if (fs.existsSync(path.join(c, "cert-chain.pem"))) continue;
        fs.mkdirSync(c, { recursive: true });
        fs.writeFileSync(path.join(c, "ext.cnf"), [...CA_EXTENSIONS, `subjectAltName=DNS:istiod.istio-system.svc`].join("\n") + "\n");
        openssl(c, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", `/O=Istio/CN=Intermediate CA/L=${cluster}`, "-keyout", "ca-key.pem", "-out", "cluster-ca.csr");
        openssl(c, "x509", "-req", "-sha256", "-days", "730", "-in", "cluster-ca.csr", "-CA", "../root-cert.pem", "-CAkey", "../root-key.pem",
            "-CAcreateserial", "-extfile", "ext.cnf", "-out", "ca-cert.pem");
        fs.copyFileSync(path.join(dir, "root-cert.pem"), path.join(c, "root-cert.pem"));
        fs.writeFileSync(path.join(c, "cert-chain.pem"), fs.readFileSync(path.join(c, "ca-cert.pem"), "utf8") + fs.readFileSync(path.join(dir, "root-cert.pem"), "utf8"));
    }
}
