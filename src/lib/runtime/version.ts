// Set by the build from package.json, so the executables and the peer exchange report one version.
declare const __CARPENTRY_VERSION__: string | undefined;
export const VERSION: string = typeof __CARPENTRY_VERSION__ === "string" ? __CARPENTRY_VERSION__ : "dev";

// Set by the build to a value of its own: a check's shell header is served only by the cycle server
// of the same build (dist/carpentry built with it), never by one left running by an earlier install.
declare const __CARPENTRY_BUILD__: string | undefined;
export const BUILD: string = typeof __CARPENTRY_BUILD__ === "string" ? __CARPENTRY_BUILD__ : "dev";
