// How the suite writes a moment in its lines: "HH:MM", with the day before it ("Dec 6 00:20") when
// the moment is not today (a maintenance window that ends after midnight).
export const CLOCK_TIME = String.raw`(?:[A-Z][a-z]{2} \d{1,2} )?\d\d:\d\d`;
