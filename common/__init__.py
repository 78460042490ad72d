"""What every other package may use and that uses none of them: the error model, the audit log
writer and the checks of untrusted input. Nothing here imports the web framework."""
