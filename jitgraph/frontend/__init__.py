"""Frontend: Python source -> AST checks and rewrites -> IR (generic or typed)."""
