/**
 * The IP a remote's istiod chart gets as `remotePilotAddress` when the primary's gateway has a DNS
 * name (AWS ELB/NLB). The chart turns a hostname into an ExternalName Service, which the API server
 * cannot call for sidecar injection, so the name is resolved here, at each `pulumi up`:
 * - IPv4 only (a dual-stack name must not yield an IPv6 address the remote may not route);
 * - retried with backoff for a bounded time (a new load balancer's name takes minutes to resolve);
 * - the lowest address of the set, so rotating DNS answers give the same value run after run.
 * For production, a static address (`gatewayAddress`) avoids all of it.
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { isIpAddress } from "./istio-values";

/** Turns a DNS name into its IPv4 addresses. */
export type ResolveAddress = (hostname: string) => Promise<readonly string[]>;

/** Resolves through the operating system, as the machine running `pulumi up` sees the name. */
export const resolveWithSystemDns: ResolveAddress = async (hostname) =>
    (await dns.lookup(hostname, { family: 4, all: true })).map((a) => a.address);

export interface RetryPolicy {
    /** How long to keep trying, in milliseconds. */
    readonly timeoutMs: number;
    /** The first wait; each next one doubles, up to `maxDelayMs`. */
    readonly firstDelayMs: number;
    readonly maxDelayMs: number;
    /** Waits (injectable for tests). */
    readonly sleep: (ms: number) => Promise<void>;
}

/** Five minutes: longer than a new ELB name usually takes to appear in DNS. */
export const DEFAULT_RETRY: RetryPolicy = {
    timeoutMs: 5 * 60_000,
    firstDelayMs: 2_000,
    maxDelayMs: 30_000,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The numerically lowest of a set of IPv4 addresses. */
export function lowestIPv4(addresses: readonly string[]): string {
    const key = (a: string) => a.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    return [...addresses].sort((a, b) => key(a) - key(b))[0];
}

/** `address` itself if it is an IP, else one IPv4 address it resolves to (see the module comment). */
export async function remotePilotAddress(address: string, resolve: ResolveAddress, retry: RetryPolicy = DEFAULT_RETRY): Promise<string> {
    if (isIpAddress(address)) return address;
    let waited = 0;
    let delay = retry.firstDelayMs;
    for (;;) {
        let why: string;
        try {
            const found = await resolve(address);
            const ipv4 = found.filter((a) => isIP(a) === 4);
            if (ipv4.length > 0) return lowestIPv4(ipv4);
            why = found.length > 0 ? `it resolved to ${found.join(", ")}, no IPv4 address` : "it resolved to no address";
        } catch (e) {
            why = (e as { code?: string }).code ?? (e as Error).message;
        }
        if (waited + delay > retry.timeoutMs) {
            throw new Error(
                `the primary's gateway address ${address} did not resolve to an IPv4 address within ${Math.round(retry.timeoutMs / 1000)} s ` +
                    `(${why}). A new load balancer's name can take minutes to resolve: run \`pulumi up\` again, ` +
                    "or give the primary a static gatewayAddress.",
            );
        }
        await retry.sleep(delay);
        waited += delay;
        delay = Math.min(delay * 2, retry.maxDelayMs);
    }
}
