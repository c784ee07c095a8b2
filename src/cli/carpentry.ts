// The entry of dist/carpentry. `carpentry facts` runs on the peer for every data check of the primary,
// so it starts without commander, the check registry or nodemailer: only what answers a request.
if (process.argv[2] === "facts" && process.argv.length === 3) {
  void import("./facts.js").then((facts) => facts.runFacts());
} else {
  void import("./main.js");
}
