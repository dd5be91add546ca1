#!/bin/sh
# nvcc that also writes a depfile. meson < 1.4 passes nvcc no depfile flags, so ninja
# records no header dependencies and an edited template rebuilds nothing
# (mesonbuild/meson#11969). tools/bootstrap.sh configures such a meson with this wrapper;
# it writes <object>.d, where meson's ninja rules look for it.
out='' prev='' compile=''
for arg in "$@"; do
  [ "$prev" = "-o" ] && out=$arg
  [ "$arg" = "-c" ] && compile=1
  prev=$arg
done
if [ -n "$compile" ] && [ -n "$out" ]; then
  exec nvcc -MD -MF "$out.d" "$@"
fi
exec nvcc "$@"
