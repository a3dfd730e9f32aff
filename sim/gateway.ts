/**
 * The primary's network gateway, as far as the remotes need it to reach istiod: TLS passed through by
 * SNI on 15012 and 15017, routed the way the program's VirtualServices (`istiod-vs`, `istiod-vs-<rev>`)
 * say — what Envoy does on the real east-west gateway. With several revisions each istiod listens on
 * its own pod address, so a remote's webhook call reaches the right one only through these routes.
 * No Envoy runs: the supervisor runs this router on the gateway Service's load-balancer address.
 */
import * as net from "node:net";

/** `spec.tls` routes of an Istio VirtualService, as far as TLS passthrough uses them. */
export interface TlsRoutes {
    readonly spec?: {
        readonly tls?: readonly {
            readonly match?: readonly { readonly port?: number; readonly sniHosts?: readonly string[] }[];
            readonly route?: readonly { readonly destination?: { readonly host?: string; readonly port?: { readonly number?: number } } }[];
        }[];
    };
}

/** A ClientHello read so far: not all of its first record yet, or its SNI (none: not TLS, or no SNI). */
export type HelloRead = { readonly complete: false } | { readonly complete: true; readonly serverName?: string };

/** The SNI of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3). */
export function serverNameOf(data: Buffer): HelloRead {
    if (data.length < 5) return { complete: false };
    if (data[0] !== 0x16) return { complete: true }; // not a handshake record
    const end = 5 + data.readUInt16BE(3);
    if (data.length < end) return { complete: false };
    let at = 5;
    if (data[at] !== 0x01) return { complete: true }; // not a ClientHello
    at += 4 + 2 + 32; // handshake header, client version, random
    at += 1 + data[at]; // session id
    at += 2 + data.readUInt16BE(at); // cipher suites
    at += 1 + data[at]; // compression methods
    const extensionsEnd = Math.min(end, at + 2 + data.readUInt16BE(at));
    at += 2;
    while (at + 4 <= extensionsEnd) {
        const type = data.readUInt16BE(at);
        const length = data.readUInt16BE(at + 2);
        if (type === 0x0000) {
            // server_name_list: list length (2), name type (1) = host_name, name length (2), name
            const nameLength = data.readUInt16BE(at + 4 + 3);
            return { complete: true, serverName: data.toString("ascii", at + 4 + 5, at + 4 + 5 + nameLength) };
        }
        at += 4 + length;
    }
    return { complete: true };
}

const sniMatches = (pattern: string, sni: string) => pattern === sni || pattern === "*" || (pattern.startsWith("*.") && sni.endsWith(pattern.slice(1)));

/**
 * Where a passed-through connection on `port` with `sni` goes: the destination of the first TLS route
 * matching it exactly, else by wildcard (as Envoy prefers the most specific server name).
 */
export function routeFor(virtualServices: readonly TlsRoutes[], port: number, sni: string): { host: string; port: number } | undefined {
    const routes = virtualServices.flatMap((vs) => vs.spec?.tls ?? []);
    for (const exact of [true, false]) {
        for (const r of routes) {
            const matched = (r.match ?? []).some(
                (m) => (m.port === undefined || m.port === port) && (m.sniHosts ?? []).some((h) => (exact ? h === sni : sniMatches(h, sni))),
            );
            const destination = r.route?.[0]?.destination;
            if (matched && destination?.host) return { host: destination.host, port: destination.port?.number ?? port };
        }
    }
    return undefined;
}

/** Resolves a route's destination (a Service host and port) to a pod address and port, or undefined. */
export type Resolve = (route: { host: string; port: number }) => Promise<{ address: string; port: number } | undefined>;

/**
 * Listens on `address` at each of `ports`; each connection is routed by its SNI through
 * `virtualServices()` and `resolve`, its bytes passed through untouched.
 */
export function startRouter(
    address: string,
    ports: readonly number[],
    virtualServices: () => Promise<readonly TlsRoutes[]>,
    resolve: Resolve,
    log: (line: string) => void,
): net.Server[] {
    return ports.map((port) => {
        const server = net.createServer((client) => {
            let hello = Buffer.alloc(0);
            const onData = (chunk: Buffer) => {
                hello = Buffer.concat([hello, chunk]);
                const read = serverNameOf(hello);
                if (!read.complete) return;
                const sni = read.serverName;
                client.off("data", onData);
                client.pause();
                void (async () => {
                    const route = sni === undefined ? undefined : routeFor(await virtualServices(), port, sni);
                    const target = route && (await resolve(route));
                    if (!target) {
                        log(`gateway ${address}:${port}: no route for SNI ${sni ?? "(none)"}`);
                        client.destroy();
                        return;
                    }
                    const upstream = net.connect(target.port, target.address, () => {
                        upstream.write(hello);
                        client.pipe(upstream).pipe(client);
                        client.resume();
                    });
                    const close = () => {
                        client.destroy();
                        upstream.destroy();
                    };
                    upstream.on("error", close);
                    client.on("error", close);
                })().catch((e: unknown) => {
                    log(`gateway ${address}:${port}: ${String(e)}`);
                    client.destroy();
                });
            };
            client.on("data", onData);
            client.on("error", () => client.destroy());
        });
        server.on("error", (e) => log(`gateway ${address}:${port}: ${String(e)}`));
        server.listen(port, address);
        return server;
    });
}
