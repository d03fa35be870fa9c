# A short soak (make soak runs it for 10 minutes): a server under load traced
# for $SOAK_SECONDS (default 30) s, memory flat and counts exact.  See
# tests/soak.sh.  Sourced by run.sh.
source "$E2E_ROOT/tests/soak.sh"
soak_test "${SOAK_SECONDS:-30}"
