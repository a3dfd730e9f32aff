/** Polls `check` until it passes or `timeoutMs` runs out (istiod and the clusters apply changes asynchronously). */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 60_000, pollMs = 500): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        try {
            return await check();
        } catch (e) {
            if (Date.now() > deadline) throw e;
            await new Promise((r) => setTimeout(r, pollMs));
        }
    }
}
