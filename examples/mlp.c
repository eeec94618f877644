/* mlp: trains a multilayer perceptron, 2 -> H -> H -> 2, to tell two interleaved
 * spirals (or two moons) apart, with mini-batch SGD and momentum entirely on the device.
 * perceptron.c holds the network and its training, shared with mlp_mpi. */
#include "perceptron.h"

int main(int argc, char **argv)
{
    return perceptron_main(argc, argv, "mlp", NULL);
}
