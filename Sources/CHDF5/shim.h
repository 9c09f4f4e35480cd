#ifndef DLINFER_CHDF5_SHIM_H
#define DLINFER_CHDF5_SHIM_H
#include <hdf5.h>
#include <string.h>

/* HDF5 exposes these as macros over global ids (or library-init calls) that Swift cannot import. */
static inline hid_t dl_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t dl_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t dl_h5t_c_s1(void) { return H5T_C_S1; }
static inline hid_t dl_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t dl_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t dl_h5p_link_access(void) { return H5P_LINK_ACCESS; }
static inline hid_t dl_h5p_dataset_access(void) { return H5P_DATASET_ACCESS; }
static inline hid_t dl_h5s_all(void) { return H5S_ALL; }
static inline unsigned dl_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline size_t dl_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t dl_h5e_default(void) { return H5E_DEFAULT; }
static inline unsigned dl_h5lt_file_image_dont_copy(void) { return 0; }
/* For tests that write hostile files. */
static inline unsigned dl_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline hid_t dl_h5p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t dl_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }

/* The type of link `name` (H5L_TYPE_HARD, _SOFT, _EXTERNAL or user-defined), or -1; for a hard
 * link, *addr is the object header address of its target (else HADDR_UNDEF). Wrapped because
 * H5Lget_info and its info struct are versioned macros in HDF5 1.12 and later (where a token
 * replaces the address). */
static inline int dl_h5l_info(hid_t loc, const char *name, hid_t lapl, haddr_t *addr) {
    *addr = HADDR_UNDEF;
#if H5_VERSION_GE(1, 12, 0)
    H5L_info2_t info;
    if (H5Lget_info2(loc, name, &info, lapl) < 0) return -1;
    if (info.type == H5L_TYPE_HARD && H5VLnative_token_to_addr(loc, info.u.token, addr) < 0) return -1;
#else
    H5L_info_t info;
    if (H5Lget_info(loc, name, &info, lapl) < 0) return -1;
    if (info.type == H5L_TYPE_HARD) *addr = info.u.address;
#endif
    return (int)info.type;
}

/* The object header address of `obj` (for a file, of its root group), or HADDR_UNDEF. Only the
 * header prefix and message headers are read (H5O_INFO_BASIC), no message is decoded. */
static inline haddr_t dl_h5o_address(hid_t obj) {
    haddr_t addr = HADDR_UNDEF;
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info3(obj, &info, H5O_INFO_BASIC) < 0 || H5VLnative_token_to_addr(obj, info.token, &addr) < 0)
        return HADDR_UNDEF;
#else
    H5O_info_t info;
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return HADDR_UNDEF;
    addr = info.addr;
#endif
    return addr;
}

/* An external-link traversal callback that refuses every traversal. */
static herr_t dl_h5_deny_external_link(const char *parent_file, const char *parent_group, const char *child_file,
                                       const char *child_object, unsigned *acc_flags, hid_t fapl, void *data) {
    (void)parent_file; (void)parent_group; (void)child_file; (void)child_object;
    (void)acc_flags; (void)fapl; (void)data;
    return -1;
}
static inline herr_t dl_h5p_deny_external_links(hid_t lapl) { return H5Pset_elink_cb(lapl, dl_h5_deny_external_link, NULL); }

/* Reading a variable-length string makes libhdf5 1.10 follow the reference stored in the file into
 * a global heap collection, trusting the object index and both stored lengths (a corrupt file makes
 * it copy wild lengths, overrun the buffer it sized from the other length, or loop forever). The
 * loader reads the references as raw bytes instead and checks the heap itself: this conversion,
 * from a variable-length string to an opaque type of the same size tagged DL_RAW_VLEN_TAG, leaves
 * the file's bytes untouched. */
#define DL_RAW_VLEN_TAG "dlinfer raw variable-length string references"

static herr_t dl_h5_raw_vlen_convert(hid_t src, hid_t dst, H5T_cdata_t *cdata, size_t n, size_t buf_stride,
                                     size_t bkg_stride, void *buf, void *bkg, hid_t dxpl) {
    (void)n; (void)buf_stride; (void)bkg_stride; (void)buf; (void)bkg; (void)dxpl;
    if (cdata->command != H5T_CONV_INIT) return 0; /* same size: the raw bytes are the result */
    if (H5Tis_variable_str(src) <= 0 || H5Tget_class(dst) != H5T_OPAQUE || H5Tget_size(src) != H5Tget_size(dst))
        return -1;
    char *tag = H5Tget_tag(dst);
    int ours = tag != NULL && strcmp(tag, DL_RAW_VLEN_TAG) == 0;
    H5free_memory(tag);
    if (!ours) return -1;
    cdata->need_bkg = H5T_BKG_NO;
    return 0;
}

/* Registers the conversion (once per process; soft conversions are chosen by type class, and this
 * one declines every pair but a variable-length string and its tagged opaque twin). */
static inline herr_t dl_h5_register_raw_vlen(void) {
    hid_t src = H5Tcopy(H5T_C_S1), dst = H5Tcreate(H5T_OPAQUE, 1);
    herr_t status = -1;
    if (src >= 0 && dst >= 0 && H5Tset_size(src, H5T_VARIABLE) >= 0)
        status = H5Tregister(H5T_PERS_SOFT, "dlinfer raw vlen", src, dst, dl_h5_raw_vlen_convert);
    if (src >= 0) H5Tclose(src);
    if (dst >= 0) H5Tclose(dst);
    return status;
}

/* The memory type that reads `size`-byte variable-length string references raw. */
static inline hid_t dl_h5t_raw_vlen(size_t size) {
    hid_t t = H5Tcreate(H5T_OPAQUE, size);
    if (t >= 0 && H5Tset_tag(t, DL_RAW_VLEN_TAG) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}
#endif
