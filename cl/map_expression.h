/* The element function of cl/map.cl. kiln_map generates this text from the caller's
 * expression (lib/expr/codegen.c) and puts it in this header's place; these defaults,
 * an element that does nothing, only let map.cl build alone.
 *
 * MAP_2D      1 when the element needs its row and column (ROW or COL bindings)
 * MAP_REDUCE  kiln_map_reduce's reduction, 0 sum, 1 max, 2 min; unset for kiln_map
 * MAP_PARAMS  the parameters after the kernel's own, each starting with a comma
 * MAP_ARGS    their names, to pass them on
 * map_element4 (map_value4 for map_reduce) does the 4 elements from i on as float4s. */
#define MAP_2D 0
#define MAP_PARAMS
#define MAP_ARGS
inline void map_element(const ulong i, const ulong r, const ulong c MAP_PARAMS)
{
}
inline void map_element4(const ulong i, const ulong4 r, const ulong4 c MAP_PARAMS)
{
}
