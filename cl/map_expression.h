/* The element function of cl/map.cl. kiln_map generates this text from the caller's
 * expression (lib/expr/codegen.c) and puts it in this header's place; these defaults,
 * an element that does nothing, only let map.cl build alone.
 *
 * MAP_2D      1 when the element needs its row and column (ROW or COL bindings)
 * MAP_REDUCE  kiln_map_reduce's reduction, 0 sum, 1 max, 2 min; unset for kiln_map
 * MAP_PARAMS  the parameters after the kernel's own, each starting with a comma
 * MAP_ARGS    their names, to pass them on */
#define MAP_2D 0
#define MAP_PARAMS
#define MAP_ARGS
inline void map_element(const ulong i, const ulong r, const ulong c MAP_PARAMS)
{
}
