// profile_example.cpp — the C++ RAII wrapper (ipf.hpp) on whatever model the
// path names:
//   profile_example BUNDLE_DIR CAPTION IMAGE [CAPTION IMAGE ...]   profile ("-" = none)
//   profile_example BERT_DIR TEXT...                  x_T of each text (first values)
//   profile_example INCEPTION.safetensors IMAGE...    pool features of each image
//   profile_example VOCAB.txt TEXT...                 WordPiece ids
#include "ipf.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

static bool exists(const std::string &p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

static bool ends_with(const std::string &s, const std::string &suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static void print_head(const char *what, const std::vector<float> &v) {
    std::printf("%s [%zu]:", what, v.size());
    for (size_t i = 0; i < v.size() && i < 4; i++) std::printf(" %.5f", v[i]);
    std::printf(" ...\n");
}

int main(int argc, char **argv) try {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s MODEL_PATH INPUT...\n", argv[0]);
        return 2;
    }
    std::string path = argv[1];
    if (exists(path + "/profiler.safetensors")) {
        if ((argc - 2) % 2) throw std::runtime_error("posts are CAPTION IMAGE pairs");
        ipf::Model model = ipf::Model::load(path);
        ipf::Session session(model);
        std::vector<ipf_post> posts;
        for (int i = 2; i + 1 < argc; i += 2) {
            ipf_post p{};
            p.struct_size = sizeof p;
            if (std::string(argv[i]) != "-") {
                p.caption = argv[i];
                p.caption_len = std::strlen(argv[i]);
            }
            if (std::string(argv[i + 1]) != "-") p.image_path = argv[i + 1];
            posts.push_back(p);
        }
        auto inf_names = model.class_names(IPF_HEAD_INFLUENCER);
        auto post_names = model.class_names(IPF_HEAD_POST);
        std::vector<float> inf(inf_names.size()), pp(posts.size() * post_names.size()), alpha(posts.size());
        session.profile(posts, inf, pp, alpha);
        for (size_t c = 0; c < inf.size(); c++) std::printf("influencer %-10s %.4f\n", inf_names[c].c_str(), inf[c]);
        for (size_t i = 0; i < posts.size(); i++) std::printf("post %zu attention %.4f\n", i, alpha[i]);
    } else if (exists(path + "/config.json")) {
        ipf::Model model = ipf::Model::load_bert(path);
        ipf::Session session(model);
        for (int i = 2; i < argc; i++) print_head(argv[i], session.encode_text(argv[i], model.dim(IPF_DIM_TEXT)));
    } else if (ends_with(path, ".safetensors")) {
        ipf::Model model = ipf::Model::load_inception(path, true);
        ipf::Session session(model);
        for (int i = 2; i < argc; i++)
            print_head(argv[i], session.encode_image_file(argv[i], model.dim(IPF_DIM_IMAGE_POOL)));
    } else {
        ipf::Model model = ipf::Model::load_vocab(path, true);
        ipf::Session session(model);
        for (int i = 2; i < argc; i++) {
            std::printf("%s:", argv[i]);
            for (int32_t id : session.tokenize(argv[i])) std::printf(" %d", id);
            std::printf("\n");
        }
    }
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
