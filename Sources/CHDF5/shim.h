#ifndef DLINFER_CHDF5_SHIM_H
#define DLINFER_CHDF5_SHIM_H
#include <hdf5.h>

/* HDF5 exposes these as macros over global ids (or library-init calls) that Swift cannot import. */
static inline hid_t dl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dl_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t dl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t dl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t dl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t dl_h5s_all(void) { return H5S_ALL; }
static inline unsigned dl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t dl_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t dl_h5e_default(void) { return H5E_DEFAULT; }
static inline unsigned dl_h5lt_file_image_dont_copy(void) { return 0; }
#endif
