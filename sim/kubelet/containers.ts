/**
 * Containers' processes as a kubelet runs them with `restartPolicy: Always`: started once, started
 * again after a back-off that doubles from 10 s (up to 5 min) when one exits while its pod is there,
 * and stopped with SIGTERM, then SIGKILL once the pod's grace period is over.
 */
import type { ChildProcess } from "node:child_process";

export class Containers {
    private readonly running = new Map<string, { child: ChildProcess; graceSeconds: number }>();
    private readonly restarts = new Map<string, { count: number; notBefore: number }>();

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
        if (this.running.has(key) || Date.now() < (this.restarts.get(key)?.notBefore ?? 0)) return;
        const child = start();
        this.running.set(key, { child, graceSeconds });
        child.on("exit", (code, signal) => {
            if (this.running.get(key)?.child !== child) return; // stopped on purpose
            this.running.delete(key);
            const count = (this.restarts.get(key)?.count ?? 0) + 1;
            const backoff = Math.min(10_000 * 2 ** (count - 1), 300_000);
            this.restarts.set(key, { count, notBefore: Date.now() + backoff });
            this.log(`${key} exited (${signal ?? code}) while its pod runs: restart ${count} in ${backoff / 1000} s (restartPolicy Always)`);
        });
    }

    /** Stops `key` as a kubelet stops a container of a removed pod, and forgets its back-off. */
    stop(key: string): void {
        this.restarts.delete(key);
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
