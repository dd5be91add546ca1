# PTX of generated TUs with HEAD's templates (/tmp/oldtpl: `git show HEAD:templates/F`) and the
# working tree's: every old kernel body (its name, labels and static shared names normalised)
# must appear among the new ones. Run from the repository root:
#   BUILD=build-x python3 ptxcmp.py rms_norm_group_fp8_sm90_h4096_bs1024 ...
import json, re, subprocess, sys, os
cc = json.load(open(os.environ.get('BUILD', 'build-x') + '/compile_commands.json'))
def ptx(entry, inc, out):
    cmd = entry['command'].split()
    cmd = [c for c in cmd]
    i = cmd.index('-o'); del cmd[i:i+2]
    cmd.remove('-c'); cmd[0] = '/usr/local/cuda/bin/nvcc'
    cmd = [('-I' + inc) if c == '-I../templates' else c for c in cmd]
    cmd = [c for c in cmd if not c.startswith('--compress-mode')]
    cmd += ['-ptx', '-o', out]
    subprocess.run(cmd, cwd=entry['directory'], check=True)
    return open(out).read()
def bodies(text):
    out = {}
    for m in re.finditer(r'\.entry (\S+)\(', text):
        name = m.group(1); start = m.start()
        end = text.index('\n}\n', start)
        out[name] = re.sub(r'\$L__BB\d+_', 'L_', re.sub(r'_ZZ\S*?E6staged', 'STAGED', text[start:end].replace(name, 'K')))
    return out
ok = True
for pat in sys.argv[1:]:
    e = [x for x in cc if x['file'].endswith('/' + pat + '.cu')][0]
    old = bodies(ptx(e, '/tmp/oldtpl', '/tmp/o.ptx'))
    new = bodies(ptx(e, '../templates', '/tmp/n.ptx'))
    newset = set(new.values())
    same = sum(b in newset for b in old.values())
    print(f'{pat}: {len(old)} old kernels, {len(new)} new, {same} old bodies found identical among the new')
    ok &= same == len(old)
print('all identical' if ok else 'DIFFERENCES')
if len(sys.argv) == 2:
    import difflib
    for n, b in old.items():
        if b in newset: continue
        # the closest new body
        best = max(new.values(), key=lambda x: difflib.SequenceMatcher(None, x[:20000], b[:20000]).quick_ratio())
        d = list(difflib.unified_diff(b.splitlines(), best.splitlines(), lineterm='', n=1))
        print(n, len(d), 'diff lines'); print('\n'.join(d[:60])); break
