// Elementwise template: one thread per output element, grid-stride loop so any grid size
// covers any n (the launcher caps the grid; the host emulator runs a handful of blocks).
// Filled by jitgraph/backends/cuda_lower.py (string.Template):
//   ${name}    stable kernel name (graph name, kernel number, what it computes)
//   ${params}  pointers to the operands and outputs, then run-time scalars by value
//   ${idx}     index type: int when every offset fits in 31 bits, else long long
//   ${n}       number of elements of the iteration domain (static shape)
//   ${body}    loads through static strides (broadcasting = stride 0), the scalar
//              expressions of the fused chain, and the stores
extern "C" __global__ void __launch_bounds__(${block}) ${name}(${params}) {
    for (${idx} i = (${idx})blockIdx.x * ${block} + threadIdx.x; i < (${idx})${n};
         i += (${idx})gridDim.x * ${block}) {
${body}
    }
}
