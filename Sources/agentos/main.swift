print("agentos")
