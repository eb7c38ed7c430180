"""DNS backends behind one small interface. Only this package speaks the wire or writes zones."""
