"""Text generation: the Generator protocol and its local backends."""
