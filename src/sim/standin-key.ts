// Where standin.sh looks for what to print: the key of an argument list. Its own module, without the
// scripts, so a unit test can hold it against the script.

/** Each argument with every byte outside [A-Za-z0-9._=+,:@-] written %XX, joined with "_"; none: "(none)". */
export function standinKey(args: readonly string[]): string {
  if (args.length === 0) return "(none)";
  return args
    .map((arg) =>
      [...Buffer.from(arg)]
        .map((byte) => {
          const char = String.fromCharCode(byte);
          return /[A-Za-z0-9._=+,:@-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
        })
        .join(""),
    )
    .join("_");
}
