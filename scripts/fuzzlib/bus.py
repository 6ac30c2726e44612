NAME = "bus"
def time_bound(quick): return 60
def run(part, ctx): pass
def summary(part): return "bus stub"
