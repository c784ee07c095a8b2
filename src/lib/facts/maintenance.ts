// The "maintenance" op: this host's maintenance windows, so that the checks on the peer excuse what
// an upgrade here causes. The state directory is this host's own config's (the asker's may differ).
import { loadConfig, resolveConfigPath, DEFAULT_STATE_DIR } from "../runtime/config.js";
import { maintenanceWindows } from "../runtime/maintenance.js";
import { registerFacts } from "./protocol.js";

function stateDirHere(): string {
  try {
    return loadConfig(resolveConfigPath(undefined), { only: { name: "maintenance" } }).maintenance.state_dir;
  } catch {
    return DEFAULT_STATE_DIR;
  }
}

registerFacts("maintenance", () => {
  const loaded = maintenanceWindows(stateDirHere());
  if ("problem" in loaded) return Promise.reject(new Error(loaded.problem));
  return Promise.resolve(loaded.value);
});
