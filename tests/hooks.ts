/** Mocha root hooks (.mocharc.cjs requires this): they run around every test file, in each worker. */
import { removeTempDirs } from "./support";

export const mochaHooks = {
    afterAll(): void {
        removeTempDirs();
    },
};
