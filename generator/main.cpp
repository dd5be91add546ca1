// kiln-gen: configs/ -> generated/. The work is in kiln_gen_lib; see kiln_gen/cli.h.
#include <iostream>
#include <string>
#include <vector>

#include "kiln_gen/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return kiln::gen::run_cli(args, std::cout, std::cerr);
}
