/* ipf_tool.h — shared declarations of the ipf command-line tool. */
#ifndef IPF_TOOL_H
#define IPF_TOOL_H
#include "influencer_profiler.h"

typedef struct ipf_cmd {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the command name */
    const char *help;
} ipf_cmd;

int cmd_version(int argc, char **argv);

/* Strict option values (tools/args.c): 0, or -1 after a message on stderr. */
int tool_int_arg(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int tool_float_arg(const char *cmd, const char *opt, const char *s, float *out);
int cmd_embed_text(int argc, char **argv);

/* Each tools/cmd_*.c owns one of these macros: a list of {name, fn, help},
 * entries, each ending with a comma.  Kept apart so parallel work merges. */
int cmd_embed_image(int argc, char **argv);
#define IPF_CMDS_IMAGE \
    {"embed-image", cmd_embed_image, "Inception-v3 pool features: --inception FILE [--npy X.npy] [IMAGE...]"},

int cmd_tokenize(int argc, char **argv);
#define IPF_CMDS_TEXT \
    {"tokenize", cmd_tokenize, "captions (JSON Lines) to BERT token ids"}, \
    {"embed-text", cmd_embed_text, "BERT [CLS] vectors for captions or id sequences (JSON Lines)"},

int cmd_profile(int argc, char **argv);
int cmd_classify_post(int argc, char **argv);
#define IPF_CMDS_API                                                                                  \
    {"profile", cmd_profile, "profile influencers from a manifest (JSON Lines, gzip ok)"},           \
    {"classify-post", cmd_classify_post, "classify posts read as JSON Lines on stdin"},

int cmd_train(int argc, char **argv);
#define IPF_CMDS_TRAIN \
    {"train", cmd_train, "train the profiler on a manifest and write a model bundle"},

#define IPF_TOOL_COMMANDS IPF_CMDS_IMAGE IPF_CMDS_TEXT IPF_CMDS_API IPF_CMDS_TRAIN

#endif
