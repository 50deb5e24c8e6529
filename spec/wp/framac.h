/*
 * What ring.c takes from glibc and Frama-C's own libc lacks.  Only the proved functions'
 * callees matter to WP; these just let the rest of the file parse.
 */
long syscall(long number, ...);
#ifndef MAP_POPULATE
#define MAP_POPULATE 0x08000
#endif
