/**
 * Containers' processes as a kubelet runs them with `restartPolicy: Always`: started once; one that
 * exits while its pod is there is started again with the kubelet's back-off ({@link restartAt}); and
 * stopped with SIGTERM, then SIGKILL once the pod's grace period is over.
 */
import type { ChildProcess } from "node:child_process";

/** A container's restart back-off, as the kubelet's `flowcontrol.Backoff` keeps it per container. */
export interface BackOff {
    readonly backoffMs: number;
    /** When the back-off last grew (a restart). */
    readonly lastUpdate: number;
}

/** The kubelet's container back-off: 10 s, doubling up to 5 min (`MaxContainerBackOff`). */
export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 300_000;

/** An entry not touched for twice the maximum is forgotten (flowcontrol's `hasExpired`). */
const expired = (entry: BackOff | undefined, eventTime: number): entry is undefined => entry === undefined || eventTime - entry.lastUpdate > 2 * MAX_BACKOFF_MS;

/**
 * When a container that finished at `finishedAt` may start again (kubelet `doBackOff`): at once while it
 * has no live back-off entry (its first exit, or the first after 10 quiet minutes), else that back-off
 * after it finished.
 */
export function restartAt(entry: BackOff | undefined, finishedAt: number): number {
    return expired(entry, finishedAt) ? finishedAt : finishedAt + entry.backoffMs;
}

/** The entry once the container is restarted at `now` (flowcontrol `Backoff.Next`): 10 s first, then doubled. */
export function nextBackOff(entry: BackOff | undefined, finishedAt: number, now: number): BackOff {
    return expired(entry, finishedAt)
        ? { backoffMs: INITIAL_BACKOFF_MS, lastUpdate: now }
        : { backoffMs: Math.min(entry.backoffMs * 2, MAX_BACKOFF_MS), lastUpdate: now };
}

export class Containers {
    private readonly running = new Map<string, { child: ChildProcess; graceSeconds: number }>();
    private readonly backOffs = new Map<string, BackOff>();
    /** When each container that exited while its pod runs finished. */
    private readonly finished = new Map<string, number>();

    constructor(private readonly log: (line: string) => void) {}

    /** True while a process runs for `key`. */
    has(key: string): boolean {
        return this.running.has(key);
    }

    keys(): string[] {
        return [...this.running.keys()];
    }

    /** Starts `key` with `start` unless it runs or is backing off. */
    ensure(key: string, start: () => ChildProcess, graceSeconds: number): void {
        if (this.running.has(key)) return;
        const finishedAt = this.finished.get(key);
        if (finishedAt !== undefined) {
            const entry = this.backOffs.get(key);
            if (Date.now() < restartAt(entry, finishedAt)) return; // CrashLoopBackOff
            this.backOffs.set(key, nextBackOff(entry, finishedAt, Date.now()));
            this.finished.delete(key);
        }
        const child = start();
        this.running.set(key, { child, graceSeconds });
        child.on("exit", (code, signal) => {
            if (this.running.get(key)?.child !== child) return; // stopped on purpose
            this.running.delete(key);
            const finishedAt = Date.now();
            this.finished.set(key, finishedAt);
            const wait = restartAt(this.backOffs.get(key), finishedAt) - finishedAt;
            this.log(`${key} exited (${signal ?? code}) while its pod runs: ${wait === 0 ? "restarted at its pod's next sync" : `back-off ${wait / 1000} s`} (restartPolicy Always)`);
        });
    }

    /** Stops `key` as a kubelet stops a container of a removed pod, and forgets its back-off. */
    stop(key: string): void {
        this.backOffs.delete(key);
        this.finished.delete(key);
        const entry = this.running.get(key);
        if (!entry) return;
        this.running.delete(key);
        const { child, graceSeconds } = entry;
        child.kill("SIGTERM");
        setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null) {
                this.log(`${key} still runs after ${graceSeconds} s: SIGKILL`);
                child.kill("SIGKILL");
            }
        }, graceSeconds * 1000).unref();
    }

    stopAll(): void {
        for (const { child } of this.running.values()) child.kill("SIGTERM");
    }
}
