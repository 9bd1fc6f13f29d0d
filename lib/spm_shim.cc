// spm_shim.cc — extern "C" wrapper of sentencepiece::SentencePieceProcessor.
// Every entry point catches all exceptions (allocation failures included) so
// that none unwinds into C.  Owner: tok.
#include "spm_shim.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

struct spm_proc {
    sentencepiece::SentencePieceProcessor sp;
};

static void set_err(char *err, size_t cap, const std::string &msg) {
    if (!err || cap == 0) return;
    size_t n = msg.size() < cap - 1 ? msg.size() : cap - 1;
    std::memcpy(err, msg.data(), n);
    err[n] = 0;
}

extern "C" int spm_shim_load(const char *path, spm_proc **out, char *err, size_t err_cap) {
    *out = nullptr;
    try {
        std::unique_ptr<spm_proc> p(new spm_proc);
        auto st = p->sp.Load(path);
        if (!st.ok()) {
            set_err(err, err_cap, st.ToString());
            return -1;
        }
        *out = p.release();
        return 0;
    } catch (const std::exception &ex) {
        set_err(err, err_cap, std::string("sentencepiece: ") + ex.what());
    } catch (...) {
        set_err(err, err_cap, "sentencepiece: unknown exception");
    }
    return -1;
}

extern "C" void spm_shim_free(spm_proc *p) {
    try {
        delete p;
    } catch (...) {
    }
}

extern "C" int32_t spm_shim_size(const spm_proc *p) {
    try {
        return p->sp.GetPieceSize();
    } catch (...) {
        return 0;
    }
}

extern "C" int32_t spm_shim_bos(const spm_proc *p) {
    try {
        return p->sp.bos_id();
    } catch (...) {
        return -1;
    }
}

extern "C" int32_t spm_shim_eos(const spm_proc *p) {
    try {
        return p->sp.eos_id();
    } catch (...) {
        return -1;
    }
}

extern "C" int spm_shim_encode(const spm_proc *p, const char *text, size_t len, int32_t *ids, size_t cap,
                               size_t *n_total, char *err, size_t err_cap) {
    *n_total = 0;
    try {
        std::vector<int> v;
        auto st = p->sp.Encode(absl::string_view(text ? text : "", text ? len : 0), &v);
        if (!st.ok()) {
            set_err(err, err_cap, st.ToString());
            return -1;
        }
        for (size_t i = 0; i < v.size() && i < cap; i++) ids[i] = v[i];
        *n_total = v.size();
        return 0;
    } catch (const std::exception &ex) {
        set_err(err, err_cap, std::string("sentencepiece: ") + ex.what());
    } catch (...) {
        set_err(err, err_cap, "sentencepiece: unknown exception");
    }
    return -1;
}

extern "C" int spm_shim_encode_pieces(const spm_proc *p, const char *text, size_t len, char *buf, size_t buf_cap,
                                      size_t *lens, size_t lens_cap, size_t *n, char *err, size_t err_cap) {
    *n = 0;
    try {
        std::vector<std::string> v;
        auto st = p->sp.Encode(absl::string_view(text ? text : "", text ? len : 0), &v);
        if (!st.ok()) {
            set_err(err, err_cap, st.ToString());
            return -1;
        }
        size_t off = 0;
        if (v.size() > lens_cap) {
            set_err(err, err_cap, "too many pieces for the buffer");
            return -1;
        }
        for (size_t i = 0; i < v.size(); i++) {
            if (v[i].size() > buf_cap - off) {
                set_err(err, err_cap, "pieces do not fit in the buffer");
                return -1;
            }
            std::memcpy(buf + off, v[i].data(), v[i].size());
            off += v[i].size();
            lens[i] = v[i].size();
        }
        *n = v.size();
        return 0;
    } catch (const std::exception &ex) {
        set_err(err, err_cap, std::string("sentencepiece: ") + ex.what());
    } catch (...) {
        set_err(err, err_cap, "sentencepiece: unknown exception");
    }
    return -1;
}

extern "C" int spm_shim_piece(const spm_proc *p, int32_t id, char *buf, size_t cap) {
    try {
        if (id < 0 || id >= p->sp.GetPieceSize()) return -1;
        const std::string &s = p->sp.IdToPiece(id);
        set_err(buf, cap, s);
        return (int)s.size();
    } catch (...) {
        return -1;
    }
}
