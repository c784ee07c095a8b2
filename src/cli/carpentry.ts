// The entry of dist/carpentry. `carpentry facts` runs on the peer for every data check of the primary,
// so it starts without commander, the check registry or nodemailer: only what answers a request.
if (process.argv[2] === "facts" && process.argv.length === 3) {
  void import("./facts.js").then((facts) => facts.runFacts());
} else if (process.argv[2] === "serve-cycle" && process.argv.length === 4) {
  // The checks' cycle server (started by their shell headers): the checks, without the rest of the CLI.
  void import("./cycle.js").then((cycle) => cycle.runCycleServer(process.argv[3]));
} else {
  void import("./main.js");
}
