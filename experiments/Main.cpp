#include "experiments/App.h"

int main(int argc, char** argv) { return prunelab::app::runCli(argc, argv); }
