NAME = "hostile_http"
def time_bound(quick): return 60
def run(part, ctx): pass
def summary(part): return "hostile_http stub"
