// Nagios threshold ranges ([@]start:end, '~' for negative infinity): the alert fires when the value
// is outside the range, or inside it with a leading '@'. One parser for every check's -w/-c.
import { UsageError } from "./errors.js";

export interface Range {
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly alertInside: boolean;
}

// Numbers of at most 15 digits before the point and 6 after are exact in a double, and a range of
// them fits in perfdata; a longer text is refused rather than copied into the output.
const NUMBER = /^-?\d{1,15}(\.\d{1,6})?$/;
const RANGE_MAX_CHARS = 40;

export function parseRange(text: string, optionName = "threshold"): Range {
  const trimmed = text.trim();
  const alertInside = trimmed.startsWith("@");
  const body = alertInside ? trimmed.slice(1) : trimmed;
  const bad = (why: string): never => {
    throw new UsageError(`bad ${optionName} '${truncateArg(text)}'`, `${why}; expected a Nagios range such as 10, 10:, ~:10, 10:20 or @10:20`);
  };
  if (trimmed.length > RANGE_MAX_CHARS) bad(`longer than ${RANGE_MAX_CHARS} characters`);
  if (body === "") bad("empty range");
  let startText: string;
  let endText: string;
  const colon = body.indexOf(":");
  if (colon === -1) {
    startText = "0";
    endText = body;
  } else {
    startText = body.slice(0, colon) || "0";
    endText = body.slice(colon + 1);
  }
  let start: number;
  if (startText === "~") start = -Infinity;
  else if (NUMBER.test(startText)) start = Number(startText);
  else return bad(`'${truncateArg(startText)}' is not a number of at most 15 digits`);
  let end: number;
  if (endText === "") end = Infinity;
  else if (NUMBER.test(endText)) end = Number(endText);
  else return bad(`'${truncateArg(endText)}' is not a number of at most 15 digits`);
  if (start > end) bad("start is greater than end");
  return { text: trimmed, start, end, alertInside };
}

function truncateArg(text: string): string {
  return text.length > 20 ? `${text.slice(0, 17)}...` : text;
}

export function rangeAlerts(range: Range, value: number): boolean {
  const inside = value >= range.start && value <= range.end;
  return range.alertInside ? inside : !inside;
}

/** A plain number from the config means "alert above it", the usual reading of warning = 50. */
export function rangeFromConfig(value: number | string, optionName: string): Range {
  return parseRange(typeof value === "number" ? String(value) : value, optionName);
}

/** Why a threshold from the config is not one, or undefined when it is: config validation and the check agree. */
export function thresholdProblem(value: number | string): string | undefined {
  try {
    rangeFromConfig(value, "threshold");
    return undefined;
  } catch (error) {
    return error instanceof UsageError ? (error.detail ?? error.summary) : String(error);
  }
}
