# Symlinks every *.py under SRC into DST (same relative path, subpackages included), so
# build/python/caffe is an importable package that tracks the sources.  Links whose source is
# gone (a module moved or turned into a package) are removed first, so that none is left behind.
file(GLOB_RECURSE old_links LIST_DIRECTORIES false RELATIVE ${DST} ${DST}/*.py)
foreach(rel ${old_links})
  if(IS_SYMLINK ${DST}/${rel} AND NOT EXISTS ${DST}/${rel})
    file(REMOVE ${DST}/${rel})
  endif()
endforeach()
file(GLOB_RECURSE py_files RELATIVE ${SRC} ${SRC}/*.py)
foreach(rel ${py_files})
  get_filename_component(dir ${DST}/${rel} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  if(NOT EXISTS ${DST}/${rel})
    file(CREATE_LINK ${SRC}/${rel} ${DST}/${rel} SYMBOLIC)
  endif()
endforeach()
