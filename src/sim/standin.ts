// The one stand-in of the simulated gateways (standin.sh), ready for the hosts it goes into: the demo's
// and the e2e harness's differ only in the shell that runs it, where their outputs are and whether
// calls are logged.
import script from "./standin.sh";

export interface StandinSettings {
  /** The shell that runs the stand-in inside a host. */
  readonly shell: string;
  /** Shell lines run first: they set STATE, the directory of this host's outputs, and define `standin_log KIND ARGV...`. */
  readonly setup: string;
}

/** The demo's hosts share one copy: each finds its outputs by the name in its /etc/myname. The demo keeps no command log. */
export const DEMO_STANDIN_SETTINGS: StandinSettings = {
  shell: "/bin/sh",
  setup: ["read -r host </etc/myname", "STATE=/run/carpentry-demo/state/$host", "standin_log() { :; }"].join("\n"),
};

export function standinScript(settings: StandinSettings): string {
  return script.replace(/^#!.*\n/, `#!${settings.shell}\n`).replace("@SETTINGS@\n", `${settings.setup}\n`);
}
