// Set by the build from package.json, so the executables and the peer exchange report one version.
declare const __CARPENTRY_VERSION__: string | undefined;
export const VERSION: string = typeof __CARPENTRY_VERSION__ === "string" ? __CARPENTRY_VERSION__ : "dev";
