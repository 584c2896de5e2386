"""What this plugin registers: every CLIP_benchmark dataset that reads from a local root, with the
on-disk layout CLIP_benchmark's reader (mostly torchvision's) expects there, so a missing or
partial root is refused at plan time with that layout. Class names and templates are not here:
they come from CLIP_benchmark when the dataset is built. Pure data, imported when plugins load."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

FETCH = "nothing is downloaded: fetch it on a connected machine and copy it here"


@dataclass(frozen=True)
class Entry:
    """A CLIP_benchmark dataset: its name there, the objective kind it serves, and its layout."""

    name: str
    kind: Literal["classification", "retrieval"]
    summary: str
    #: paths under the root that must exist (``{split}``: the split; ``{s}``: the split as the
    #: files name it, see ``split_names``)
    required: tuple[str, ...]
    #: the layout in words, shown when the root does not match it
    layout: str
    splits: tuple[str, ...] = ("test",)
    #: how the files name a split, where that differs from the split's name
    split_names: dict[str, str] = field(default_factory=dict)
    #: (folder, count): a folder whose class sub-folders must number ``count`` (CLIP_benchmark
    #: names the classes by position, so a partial copy would mislabel every image)
    class_dirs: tuple[str, int] | None = None
    #: torchvision compares these files' MD5 sums with the published archives
    checksummed: bool = False
    #: for VTAB: the Python packages CLIP_benchmark reads TensorFlow Datasets with
    needs: tuple[str, ...] = ()
    #: CLIP_benchmark's ``build_dataset`` reads it; False: this plugin reads it with
    #: CLIP_benchmark's own reader class (Caltech-256, which its builder does not list)
    in_builder: bool = True

    #: (folder, pattern, count): a folder that must hold exactly ``count`` files (ImageNetV2:
    #: CLIP_benchmark fetches the archive unless all 10000 images are there)
    file_count: tuple[str, str, int] | None = None

    @property
    def class_name(self) -> str:
        """The name of the dataset's class in :mod:`mmeval_clip_benchmark.datasets`."""
        return "".join(p.capitalize() for p in re.split(r"[/_\-]", self.name))

    @property
    def folder(self) -> str:
        """The sub-folder of a suite's data root (CLIP_benchmark's ``{dataset_cleaned}``)."""
        return self.name.replace("/", "-")

    def paths(self, split: str) -> list[str]:
        return [self.path(p, split) for p in self.required]

    def path(self, template: str, split: str) -> str:
        return template.format(split=split, s=self.split_names.get(split, split))


def _imagenet_folder(name: str, what: str, classes: int) -> Entry:
    return Entry(name, "classification", what, (".",),
                 f"root/<wnid>/<image> with one folder per WordNet id ({classes} folders), as "
                 "the archive unpacks", class_dirs=(".", classes))


CLASSIFICATION: tuple[Entry, ...] = (
    Entry("cifar10", "classification", "CIFAR-10 (torchvision)",
          ("cifar-10-batches-py/batches.meta", "cifar-10-batches-py/{s}"),
          "root/cifar-10-batches-py/ with batches.meta, test_batch and data_batch_1..5 (the "
          "python version)", ("test", "train"), {"test": "test_batch", "train": "data_batch_1"},
          checksummed=True),
    Entry("cifar100", "classification", "CIFAR-100 (torchvision)",
          ("cifar-100-python/meta", "cifar-100-python/{s}"),
          "root/cifar-100-python/ with meta, test and train (the python version)",
          ("test", "train"), checksummed=True),
    Entry("stl10", "classification", "STL-10 (torchvision)",
          tuple(f"stl10_binary/{f}" for f in ("test_X.bin", "test_y.bin", "train_X.bin",
                                               "train_y.bin", "unlabeled_X.bin",
                                               "class_names.txt")),
          "root/stl10_binary/ with test_X.bin, test_y.bin, train_X.bin, train_y.bin, "
          "unlabeled_X.bin and class_names.txt (torchvision checks all five .bin files)",
          ("test", "train"), checksummed=True),
    Entry("imagenet1k", "classification", "ImageNet-1k validation (torchvision ImageNet)",
          ("meta.bin", "{s}"),
          "root/val/<wnid>/<image> (1000 folders) and root/meta.bin (torchvision writes it from "
          "ILSVRC2012_devkit_t12.tar.gz on first use)", ("test", "train"),
          {"test": "val"}, class_dirs=("{s}", 1000)),
    Entry("imagenet1k-unverified", "classification", "ImageNet-1k as plain folders",
          ("{s}",), "root/val/<wnid>/<image> (1000 folders)", ("test", "train"),
          {"test": "val"}, class_dirs=("{s}", 1000)),
    Entry("imagenetv2", "classification", "ImageNetV2 matched-frequency",
          ("ImageNetV2-matched-frequency",),
          "root/ImageNetV2-matched-frequency/<class index 0..999>/<image>.jpeg, all 10000 "
          "images (CLIP_benchmark fetches the archive when any is missing)",
          class_dirs=("ImageNetV2-matched-frequency", 1000),
          file_count=("ImageNetV2-matched-frequency", "*/*.jpeg", 10000)),
    _imagenet_folder("imagenet_sketch", "ImageNet-Sketch", 1000),
    _imagenet_folder("imagenet-a", "ImageNet-A", 200),
    _imagenet_folder("imagenet-r", "ImageNet-R", 200),
    _imagenet_folder("imagenet-o", "ImageNet-O", 200),
    Entry("objectnet", "classification", "ObjectNet 1.0 (the ImageNet-overlapping classes)",
          ("objectnet-1.0/images", "folder_to_objectnet_label.json",
           "objectnet_to_imagenet_1k.json", "pytorch_to_imagenet_2012_id.json",
           "imagenet_to_label_2012_v2"),
          "root/objectnet-1.0/images/<folder>/<image> and the four mapping files of "
          "objectnet-1.0/mappings copied into root"),
    Entry("caltech101", "classification", "Caltech-101 (background class kept)",
          ("caltech101/101_ObjectCategories",),
          "root/caltech101/101_ObjectCategories/<category>/image_0001.jpg... (102 folders, "
          "BACKGROUND_Google included)", class_dirs=("caltech101/101_ObjectCategories", 102)),
    Entry("caltech256", "classification", "Caltech-256 (CLIP_benchmark's reader; class names "
          "from the folder names, Caltech-101's templates)",
          ("caltech256/256_ObjectCategories",),
          "root/caltech256/256_ObjectCategories/<NNN.name>/<NNN>_<MMMM>.jpg (257 folders, "
          "257.clutter included)", class_dirs=("caltech256/256_ObjectCategories", 257),
          in_builder=False),
    Entry("pets", "classification", "Oxford-IIIT Pets (torchvision)",
          ("oxford-iiit-pet/images", "oxford-iiit-pet/annotations/{split}.txt"),
          "root/oxford-iiit-pet/images/<image>.jpg and root/oxford-iiit-pet/annotations/"
          "{test,trainval}.txt", ("test", "trainval")),
    Entry("flowers", "classification", "Oxford Flowers-102 (torchvision)",
          ("flowers-102/jpg", "flowers-102/imagelabels.mat", "flowers-102/setid.mat"),
          "root/flowers-102/jpg/image_00001.jpg..., root/flowers-102/imagelabels.mat and "
          "setid.mat", ("test", "train", "val"), checksummed=True),
    Entry("fgvc_aircraft", "classification", "FGVC Aircraft, variants (torchvision)",
          ("fgvc-aircraft-2013b/data/variants.txt",
           "fgvc-aircraft-2013b/data/images_variant_{split}.txt", "fgvc-aircraft-2013b/data/images"),
          "root/fgvc-aircraft-2013b/data/ with variants.txt, images_variant_<split>.txt and "
          "images/<id>.jpg", ("test", "train", "val", "trainval")),
    Entry("cars", "classification", "Stanford Cars (torchvision)",
          ("stanford_cars/devkit/cars_meta.mat", "stanford_cars/{s}"),
          "root/stanford_cars/ with devkit/cars_meta.mat, cars_test/ and "
          "cars_test_annos_withlabels.mat (train: cars_train/ and devkit/cars_train_annos.mat)",
          ("test", "train"), {"test": "cars_test_annos_withlabels.mat",
                              "train": "devkit/cars_train_annos.mat"}),
    Entry("sun397", "classification", "SUN397 (torchvision; no predefined split)",
          ("SUN397/ClassName.txt",),
          "root/SUN397/ClassName.txt and root/SUN397/<letter>/<class>/sun_*.jpg"),
    Entry("food101", "classification", "Food-101 (torchvision)",
          ("food-101/meta/{split}.json", "food-101/images"),
          "root/food-101/meta/{test,train}.json and root/food-101/images/<class>/<id>.jpg",
          ("test", "train")),
    Entry("eurosat", "classification", "EuroSAT RGB (torchvision; no predefined split)",
          ("eurosat/2750",), "root/eurosat/2750/<class>/<image>.jpg (10 folders)",
          class_dirs=("eurosat/2750", 10)),
    Entry("dtd", "classification", "Describable Textures, partition 1 (torchvision)",
          ("dtd/dtd/labels/{split}1.txt", "dtd/dtd/images"),
          "root/dtd/dtd/images/<class>/<image>.jpg and root/dtd/dtd/labels/{test,train,val}1.txt",
          ("test", "train", "val")),
    Entry("pcam", "classification", "PatchCamelyon (torchvision; needs h5py)",
          ("pcam/camelyonpatch_level_2_split_{s}_x.h5",
           "pcam/camelyonpatch_level_2_split_{s}_y.h5"),
          "root/pcam/camelyonpatch_level_2_split_<split>_x.h5 and _y.h5 (unzipped)",
          ("test", "train", "val"), {"val": "valid"}),
    Entry("country211", "classification", "Country211 (torchvision)",
          ("country211/{split}",), "root/country211/{test,valid,train}/<country code>/<image>.jpg "
          "(211 folders)", ("test", "valid", "train"), class_dirs=("country211/{split}", 211)),
    Entry("mnist", "classification", "MNIST (torchvision)",
          ("MNIST/raw/t10k-images-idx3-ubyte", "MNIST/raw/t10k-labels-idx1-ubyte"),
          "root/MNIST/raw/ with the four idx files, unzipped", ("test", "train")),
    Entry("gtsrb", "classification", "German Traffic Signs (torchvision)",
          ("gtsrb/GTSRB/Final_Test/Images", "gtsrb/GT-final_test.csv"),
          "root/gtsrb/GTSRB/Final_Test/Images/<image>.ppm and root/gtsrb/GT-final_test.csv "
          "(train: root/gtsrb/GTSRB/Training/)", ("test", "train")),
    Entry("renderedsst2", "classification", "Rendered SST2 (torchvision)",
          ("rendered-sst2/{s}",), "root/rendered-sst2/{test,valid,train}/{negative,positive}/",
          ("test", "val", "train"), {"val": "valid"}, class_dirs=("rendered-sst2/{s}", 2)),
    Entry("fer2013", "classification", "FER-2013 from its image folders",
          ("{split}",), "root/{test,train}/<emotion>/<image>.jpg (7 folders)", ("test", "train"),
          class_dirs=("{split}", 7)),
    Entry("voc2007", "classification", "PASCAL VOC 2007, objects cropped from their boxes",
          ("VOCdevkit/VOC2007/JPEGImages", "VOCdevkit/VOC2007/Annotations",
           "VOCdevkit/VOC2007/ImageSets/Main/{split}.txt"),
          "root/VOCdevkit/VOC2007/ with JPEGImages/, Annotations/ and ImageSets/Main/<split>.txt",
          ("test", "train")),
)

#: VTAB sets (Zhai et al. 2019) as CLIP_benchmark reads them: prepared TensorFlow Datasets
VTAB: tuple[Entry, ...] = tuple(
    Entry(f"vtab/{n}", "classification", f"VTAB {n} (TensorFlow Datasets)", (".",),
          "a TensorFlow Datasets data_dir holding this VTAB task's prepared dataset (build it with "
          "tfds on a connected machine)", needs=("tensorflow_datasets", "task_adaptation"))
    for n in ("caltech101", "cifar10", "cifar100", "clevr_count_all",
              "clevr_closest_object_distance", "diabetic_retinopathy", "dmlab",
              "dsprites_label_orientation", "dsprites_label_x_position", "dtd", "eurosat",
              "flowers", "kitti_closest_vehicle_distance", "pcam", "pets", "resisc45",
              "smallnorb_label_azimuth", "smallnorb_label_elevation", "svhn"))

RETRIEVAL: tuple[Entry, ...] = (
    Entry("flickr8k", "retrieval", "Flickr8k, Karpathy split",
          ("flickr8k_{split}_karpathy.txt",),
          "root/<image>.jpg and root/flickr8k_<split>_karpathy.txt (a CSV: a header line, then "
          "image,caption per line)", ("test", "val", "train")),
    Entry("flickr30k", "retrieval", "Flickr30k, Karpathy split",
          ("flickr30k_{split}_karpathy.txt",),
          "root/<image>.jpg and root/flickr30k_<split>_karpathy.txt (a CSV: a header line, then "
          "image,caption per line)", ("test", "val", "train")),
    Entry("mscoco_captions", "retrieval", "MS-COCO captions, Karpathy split",
          ("coco_{split}_karpathy.json", "{s}2014"),
          "root/val2014/<image>.jpg (train: train2014/) and root/coco_<split>_karpathy.json "
          "(COCO captions format)", ("test", "val", "train"), {"test": "val"}),
)

ENTRIES: dict[str, Entry] = {e.name: e for e in (*CLASSIFICATION, *VTAB, *RETRIEVAL)}

#: the 16 zero-shot datasets of TeCoA (Mao et al. 2023) and MMCoA (Zhou et al. 2024)
TECOA = ("imagenet1k", "cifar10", "cifar100", "stl10", "caltech101", "caltech256", "pets",
         "flowers", "fgvc_aircraft", "cars", "sun397", "food101", "eurosat", "dtd", "pcam",
         "country211")
#: ImageNet and the distribution shifts FARE (Schlarmann et al. 2024) and CLIP report
IMAGENET_SHIFTS = ("imagenet1k", "imagenetv2", "imagenet_sketch", "imagenet-a", "imagenet-r")
#: CLIP_benchmark's retrieval sets
RETRIEVAL_SETS = ("flickr8k", "flickr30k", "mscoco_captions")


def markdown_table() -> str:
    """The layouts as the Markdown table of docs/models-and-data.md (a test keeps them equal);
    ``<`` is escaped so a placeholder such as ``<image>`` is not read as an HTML tag."""
    rows = ["| name | reads | splits | layout under `root` |", "|---|---|---|---|"]
    for e in ENTRIES.values():
        splits = ", ".join(e.splits)
        layout = e.layout.replace("<", "\\<")
        rows.append(f"| `clip-benchmark/{e.name}` | {e.summary} | {splits} | {layout} |")
    return "\n".join(rows)
