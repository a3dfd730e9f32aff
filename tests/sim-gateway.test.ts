import { strict as assert } from "node:assert";
import * as net from "node:net";
import * as tls from "node:tls";
import { exposeIstiodVirtualService } from "../lib/istio-config";
import { routeFor, serverNameOf } from "../sim/gateway";

/** The first bytes a TLS client sends with `servername` (captured on loopback; no handshake completes). */
async function clientHello(servername?: string): Promise<Buffer> {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const hello = new Promise<Buffer>((resolve) =>
        server.once("connection", (socket) => {
            socket.once("data", (d: Buffer) => {
                resolve(d);
                socket.destroy();
            });
        }),
    );
    const client = tls.connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false });
    client.on("error", () => undefined);
    const data = await hello;
    client.destroy();
    server.close();
    return data;
}

describe("the simulated network gateway (sim/gateway.ts)", () => {
    it("reads the SNI of a real ClientHello, waits for the whole record, and finds none where there is none", async () => {
        const hello = await clientHello("istiod-1-30-3.istio-system.svc");
        assert.deepEqual(serverNameOf(hello), { complete: true, serverName: "istiod-1-30-3.istio-system.svc" });
        assert.deepEqual(serverNameOf(hello.subarray(0, 20)), { complete: false });
        assert.deepEqual(serverNameOf(await clientHello()), { complete: true });
        assert.deepEqual(serverNameOf(Buffer.from("GET / HTTP/1.1\r\n")), { complete: true });
    });

    it("routes by the program's VirtualServices: each revision's SNI to its istiod, the webhook port to 443", () => {
        const vss = [exposeIstiodVirtualService("1-29-2"), exposeIstiodVirtualService("1-30-3")];
        assert.deepEqual(routeFor(vss, 15017, "istiod-1-30-3.istio-system.svc"), { host: "istiod-1-30-3.istio-system.svc.cluster.local", port: 443 });
        assert.deepEqual(routeFor(vss, 15012, "istiod-1-29-2.istio-system.svc"), { host: "istiod-1-29-2.istio-system.svc.cluster.local", port: 15012 });
        assert.equal(routeFor(vss, 15017, "istiod-1-31-0.istio-system.svc"), undefined);
        // Without revisions the one VirtualService takes any SNI; an exact match still wins over it.
        assert.deepEqual(routeFor([exposeIstiodVirtualService(), ...vss], 15017, "istiod-1-29-2.istio-system.svc"), {
            host: "istiod-1-29-2.istio-system.svc.cluster.local",
            port: 443,
        });
        assert.deepEqual(routeFor([exposeIstiodVirtualService()], 15017, "istiod.istio-system.svc"), { host: "istiod.istio-system.svc.cluster.local", port: 443 });
    });
});
