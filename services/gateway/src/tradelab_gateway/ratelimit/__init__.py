"""Rate limits shared by every gateway replica (counts kept in Redis) and the client address."""
