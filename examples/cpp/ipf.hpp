// ipf.hpp — a small header-only C++17 RAII wrapper over the C API (an
// example, not part of the installed library).  Handles are unique_ptrs with
// the library's free functions; failures throw ipf::Error.
#pragma once
#include <influencer_profiler.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ipf {

class Error : public std::runtime_error {
public:
    Error(ipf_status status, const std::string &message)
        : std::runtime_error(std::string(ipf_status_string(status)) + ": " + message), status_(status) {}
    ipf_status status() const { return status_; }

private:
    ipf_status status_;
};

inline void check(ipf_status st) {  // handle-less calls: thread-local message
    if (st != IPF_OK) throw Error(st, ipf_last_error());
}

struct ModelFree {
    void operator()(ipf_model *m) const { ipf_model_free(m); }
};
struct SessionFree {
    void operator()(ipf_session *s) const { ipf_session_free(s); }
};

// Shareable across threads (read-only); movable, not copyable.
class Model {
public:
    static Model load(const std::string &bundle_dir) { return make(ipf_model_load, bundle_dir); }
    static Model load_bert(const std::string &dir) { return make(ipf_model_load_bert, dir); }
    static Model load_spm(const std::string &path) { return make(ipf_model_load_spm, path); }
    static Model load_inception(const std::string &path, bool transform_input = true) {
        ipf_model *m = nullptr;
        check(ipf_model_load_inception(path.c_str(), transform_input ? 1 : 0, &m));
        return Model(m);
    }
    static Model load_vocab(const std::string &path, bool lower_case = true) {
        ipf_model *m = nullptr;
        check(ipf_model_load_vocab(path.c_str(), lower_case ? 1 : 0, &m));
        return Model(m);
    }

    bool has(ipf_component c) const { return ipf_model_has(p_.get(), c) != 0; }
    size_t dim(ipf_dim d) const {
        int64_t v = 0;
        check(ipf_model_dim(p_.get(), d, &v));
        return static_cast<size_t>(v);
    }
    std::vector<std::string> class_names(ipf_head h) const {
        std::vector<std::string> out(dim(h == IPF_HEAD_INFLUENCER ? IPF_DIM_INFLUENCER_CLASSES : IPF_DIM_POST_CLASSES));
        for (size_t i = 0; i < out.size(); i++) {
            const char *name = nullptr;
            check(ipf_model_class_name(p_.get(), h, static_cast<int32_t>(i), &name));
            out[i] = name;
        }
        return out;
    }
    const ipf_model *get() const { return p_.get(); }

private:
    explicit Model(ipf_model *m) : p_(m) {}
    static Model make(ipf_status (*fn)(const char *, ipf_model **), const std::string &path) {
        ipf_model *m = nullptr;
        check(fn(path.c_str(), &m));
        return Model(m);
    }
    std::unique_ptr<ipf_model, ModelFree> p_;
};

// One per thread.  Must not outlive its Model.
class Session {
public:
    explicit Session(const Model &m) {
        ipf_session *s = nullptr;
        check(ipf_session_create(m.get(), &s));
        p_.reset(s);
    }
    void set_option(ipf_option o, int64_t v) { ok(ipf_session_set_option(p_.get(), o, v)); }

    std::vector<int32_t> tokenize(const std::string &text) {
        size_t n = 0;
        ipf_status st = ipf_session_tokenize(p_.get(), text.data(), text.size(), nullptr, 0, &n);
        if (st != IPF_ERR_BUFFER_TOO_SMALL) ok(st);
        std::vector<int32_t> ids(n);
        ok(ipf_session_tokenize(p_.get(), text.data(), text.size(), ids.data(), ids.size(), &n));
        ids.resize(n);
        return ids;
    }
    std::vector<float> encode_text(const std::string &text, size_t dim) {
        std::vector<float> out(dim);
        ok(ipf_session_encode_text(p_.get(), text.data(), text.size(), out.data(), out.size()));
        return out;
    }
    std::vector<float> encode_image_file(const std::string &path, size_t dim) {
        std::vector<float> out(dim);
        ok(ipf_session_encode_image_file(p_.get(), path.c_str(), out.data(), out.size()));
        return out;
    }
    // inf_probs (C_i), post_probs (n, C_p), alpha (n) sized by the caller.
    void profile(const std::vector<ipf_post> &posts, std::vector<float> &inf_probs, std::vector<float> &post_probs,
                 std::vector<float> &alpha) {
        ok(ipf_session_profile(p_.get(), posts.data(), posts.size(), inf_probs.data(), post_probs.data(),
                               alpha.data()));
    }

private:
    void ok(ipf_status st) {
        if (st != IPF_OK) throw Error(st, ipf_session_error(p_.get()));
    }
    std::unique_ptr<ipf_session, SessionFree> p_;
};

}  // namespace ipf
