"""Sessions: the device agent, and (being built) the session manager and resource tracking."""
