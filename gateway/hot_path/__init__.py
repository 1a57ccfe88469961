"""The hot path: authenticate → validate → resolve → claim → request function → forward → response function → settle."""
