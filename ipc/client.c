/* placeholder: being written */
typedef int lt_placeholder_t;
