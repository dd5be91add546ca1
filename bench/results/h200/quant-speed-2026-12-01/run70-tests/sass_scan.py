import re, sys
# Per kernel function: global loads (LDG) placed before its first griddepcontrol.wait (ACQBULK).
text = open(sys.argv[1]).read()
funcs = re.split(r"\n\s*Function : ", text)[1:]
waits = flagged = 0
names = []
for f in funcs:
    name = f.split("\n", 1)[0].strip()
    body = [l for l in f.split("\n") if re.search(r"/\*[0-9a-f]{4,}\*/", l)]
    first = next((i for i, l in enumerate(body) if "ACQBULK" in l), None)
    if first is None:
        continue
    waits += 1
    early = [l for l in body[:first] if re.search(r"\bLDG\b", l)]
    if early:
        flagged += 1
        names.append(f"{name}: {len(early)} LDG before the wait, e.g. {early[0].split(';')[0].strip()}")
print(f"{len(funcs)} functions, {waits} with a PDL wait, {flagged} of them with a global load before it")
for n in names[:12]:
    print("  " + n)
