# Embed files into C as byte arrays.
#   ciu_embed(<output.c> <symbol-prefix> <file>...)
# generates, for each file, `const unsigned char <prefix>_<n>[]` and a table
#   const struct ciu_embedded <prefix>_files[] = {{"name", data, len}, ...};
#   const size_t <prefix>_count;
# (struct ciu_embedded is declared in common/include/common/cmn_embed.h).
function(ciu_embed output prefix)
    set(files ${ARGN})
    add_custom_command(
        OUTPUT ${output}
        COMMAND ${CMAKE_COMMAND} -DOUTPUT=${output} -DPREFIX=${prefix} "-DFILES=${files}"
                -P ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
        DEPENDS ${files} ${CMAKE_SOURCE_DIR}/cmake/embed_run.cmake
        COMMENT "Embedding ${prefix}"
        VERBATIM)
endfunction()
