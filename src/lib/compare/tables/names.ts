// pf tables, table names.

export const PFCTL_PATH = "/sbin/pfctl";

/** A table as pfctl prints it in `-vsT`: `name` in the main ruleset, `name@anchor` inside an anchor. */
export interface TableRef {
  readonly name: string;
  readonly anchor: string;
}

export function tableKey(ref: TableRef): string {
  return ref.anchor === "" ? ref.name : `${ref.name}@${ref.anchor}`;
}

export function parseTableKey(key: string): TableRef {
  const at = key.indexOf("@");
  return at === -1 ? { name: key, anchor: "" } : { name: key.slice(0, at), anchor: key.slice(at + 1) };
}

// Names only ever reach pfctl as one argv element (never a shell), so this only keeps junk from the
// wire out of its arguments; it is loose enough that pfctl, not we, judges a name. A space is
// allowed: pf takes a quoted table name (`table <"my hosts">`), and pfctl -vsT prints it as it is.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function validTableKey(key: unknown): key is string {
  return typeof key === "string" && key.length <= 1100 && parseTableKey(key).name.trim() !== "" && !CONTROL.test(key);
}

export function pfctlTableArgs(key: string): string[] {
  const { name, anchor } = parseTableKey(key);
  return [...(anchor === "" ? [] : ["-a", anchor]), "-t", name, "-T", "show"];
}
