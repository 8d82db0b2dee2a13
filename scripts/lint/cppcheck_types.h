/* Types cppcheck cannot see because it does not read system headers: without
 * them it takes uuid_t for a scalar, and a uuid_t filled in by a call for a
 * value read before it is set. */
typedef unsigned char uuid_t[16];
