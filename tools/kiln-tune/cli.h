// kiln-tune's command line: parse, plan the candidates and pairs, then build, check,
// time and write through a Lab (lab.h). main.cpp runs it on the GPU; the tuner's tests
// run the same function on a simulated lab.
#pragma once

namespace kiln_tune {

class Lab;

// Everything `kiln-tune ARGS` does, on `lab`. Exit status: 0 when every pending pair was
// written, 1 when some pair failed, 2 on bad usage or when there is no GPU.
int tool_main(int argc, char** argv, const Lab& lab);

}  // namespace kiln_tune
