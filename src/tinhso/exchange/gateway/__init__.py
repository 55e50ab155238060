"""The data plane: the gateway that admits, limits, validates, forwards and audits every exchange.

It runs as `tinhso gateway` (a supervisor and its worker processes) and imports no control-plane
module (an import-linter contract): it reads the registry through a snapshot
(`tinhso.exchange.snapshot`) and shares only `tinhso.exchange.policy` with the control plane."""
