// The secret values the simulated gateways hold (the carp pass in hostname.carp203, unbound's control
// key, the OpenVPN static key, the SSH host key, and the older ones a fault plants): the checks read those files, and
// none may ever appear in what a check or the demo prints. Their own module, so a test can hold output
// against them without loading the rest of the simulation.
export const SECRETS = {
  carpPass: "w4n-Carp-s3cret",
  carpPassOld: "w4n-Carp-0ld-s3cret",
  unboundKey: "CANARYunboundKEYz9",
  unboundKeyOld: "CANARYunboundOLDz9",
  staticKey: "CANARYstaticKEYz9",
  staticKeyOld: "CANARYstaticOLDz9",
  sshHostKey: "CANARYsshHOSTz9",
  sshHostKeyOther: "CANARYsshOTHERz9",
} as const;
