// Registers every facts op, for the `carpentry facts` command. A check imports only the op modules
// it uses, so each check's executable stays small. Add one import per op module.
import "./files.js";
import "../compare/tables/answer.js";
import "./pf-states.js";
import "../compare/files.js";
import "./maintenance.js";
import "./shell.js";
